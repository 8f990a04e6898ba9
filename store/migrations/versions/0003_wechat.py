"""WeChat: reply windows per identity, how a push was sent, provider data on payments, and
shared platform tokens

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channel_identities") as batch_op:
        batch_op.add_column(sa.Column("window_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("window_quota", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(
            sa.Column("sent_as", sa.String(length=32), nullable=False, server_default="")
        )
    with op.batch_alter_table("payments") as batch_op:
        batch_op.add_column(sa.Column("data", sa.JSON(), nullable=False, server_default="{}"))
    op.create_table(
        "platform_tokens",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_platform_tokens")),
    )


def downgrade() -> None:
    op.drop_table("platform_tokens")
    with op.batch_alter_table("payments") as batch_op:
        batch_op.drop_column("data")
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_column("sent_as")
    with op.batch_alter_table("channel_identities") as batch_op:
        batch_op.drop_column("window_quota")
        batch_op.drop_column("window_until")
