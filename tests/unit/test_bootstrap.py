from bot.bootstrap import bootstrap
from bot.config import Settings
from nlu.rasa import RasaInterpreter


def test_rasa_backend_is_used_when_configured_and_falls_back_to_the_embedded_one(
    tmp_path, interpreter
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/x.db",
        data_dir=str(tmp_path),
        nlu="rasa",
        rasa_url="http://127.0.0.1:9",
        sandbox_secret="x",
    )
    app = bootstrap(settings, interpreter)
    parser = app.gateway._engine.interpreter
    assert isinstance(parser, RasaInterpreter)
    assert parser.parse("有没有红色的T恤").intent == "search_product"  # nothing listens on :9
    app.engine.dispose()
