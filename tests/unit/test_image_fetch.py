"""Web pictures fetched at import (--fetch-images), over real HTTP against a local picture host.

The host listens on 127.0.0.1, which the fetcher rightly refuses; tests name it "images.test"
(resolver seam) and allow exactly 127.0.0.1 (allow seam), so every other private address is
still refused as in production."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from store.image_fetch import IPAddress, RemoteImageFetcher, is_public, resolve
from store.images import ImageProblem
from store.importer import CatalogError, import_rows, read_catalog
from store.models import Product
from store.uow import UnitOfWork
from tests.fakes.pictures import PICTURE, PictureHost, running_picture_host, tls_files
from tests.unit.test_importer import published, row_with_image, write

LOOPBACK = ipaddress.ip_address("127.0.0.1")


def is_loopback(address: IPAddress) -> bool:
    """The test's allow rule: the picture host's address and no other private one."""
    return address == LOOPBACK


def resolve_images_test(host: str, port: int) -> list[IPAddress]:
    """images.test is the local picture host; every other name resolves as usual."""
    return [LOOPBACK] if host == "images.test" else resolve(host, port)


@pytest.fixture(scope="module")
def running_host() -> Iterator[PictureHost]:
    with running_picture_host() as running:
        yield running


@pytest.fixture
def host(running_host: PictureHost) -> PictureHost:
    running_host.requests.clear()
    return running_host


@pytest.fixture
def fetcher() -> Iterator[RemoteImageFetcher]:
    with RemoteImageFetcher(
        timeout_s=0.5, resolve=resolve_images_test, allow=is_loopback
    ) as fetching:
        yield fetching


def at(host: PictureHost, path: str) -> str:
    return f"http://images.test:{host.port}{path}"


def test_a_web_picture_is_fetched_checked_and_published(
    host: PictureHost, fetcher: RemoteImageFetcher, tmp_path: Path, sessions
) -> None:
    catalog = write(tmp_path, row_with_image(at(host, "/hops/2")))
    with UnitOfWork(sessions) as uow:
        import_rows(uow.session, read_catalog(catalog, fetcher=fetcher), tmp_path / "media")
        uow.commit()
        image = uow.session.scalars(select(Product).filter_by(code="NEW-1")).one().image
    assert (tmp_path / "media" / image).read_bytes() == PICTURE
    # the connection went to the checked address, and the host still saw its own name
    assert host.requests[-1] == ("/pic.png", f"images.test:{host.port}")


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",  # a cloud metadata service
        "http://10.0.0.1/pic.png",
        "http://127.0.0.2:{port}/pic.png",
        "http://[::1]:{port}/pic.png",
        "http://[::ffff:127.0.0.1]:{port}/pic.png",
        "http://0.0.0.0:{port}/pic.png",
    ],
)
def test_a_redirect_to_a_private_address_is_refused(
    host: PictureHost, fetcher: RemoteImageFetcher, target: str
) -> None:
    url = at(host, "/to?url=" + target.format(port=host.port))
    with pytest.raises(ImageProblem, match="not a public internet address"):
        fetcher.fetch(url)
    assert [path for path, _ in host.requests] == ["/to"]


def test_the_first_address_must_be_public_too(host: PictureHost) -> None:
    with RemoteImageFetcher() as fetcher, pytest.raises(ImageProblem, match="not a public"):
        fetcher.fetch(f"{host.url}/pic.png")  # 127.0.0.1, with the production rules
    assert host.requests == []


def test_more_than_three_redirects_are_refused(
    host: PictureHost, fetcher: RemoteImageFetcher
) -> None:
    fetcher.fetch(at(host, "/hops/3"))
    with pytest.raises(ImageProblem, match="more than 3 redirects"):
        fetcher.fetch(at(host, "/hops/4"))


@pytest.mark.parametrize("path", ["/big", "/big-declared"])
def test_a_body_larger_than_5_mb_is_refused(
    host: PictureHost, fetcher: RemoteImageFetcher, path: str
) -> None:
    with pytest.raises(ImageProblem, match="larger than 5 MB"):
        fetcher.fetch(at(host, path))


def test_a_body_that_never_ends_is_refused_when_the_time_is_up(
    host: PictureHost, fetcher: RemoteImageFetcher
) -> None:
    with pytest.raises(ImageProblem, match=r"took longer than 0.5 s"):
        fetcher.fetch(at(host, "/drip"))


@pytest.mark.parametrize(
    ("path", "problem"),
    [("/page.png", "not a PNG, JPEG, GIF or WebP picture"), ("/nothing.png", "HTTP 404")],
)
def test_what_is_not_a_picture_is_refused(
    host: PictureHost, fetcher: RemoteImageFetcher, path: str, problem: str
) -> None:
    with pytest.raises(ImageProblem, match=problem):
        fetcher.fetch(at(host, path))


def test_a_refused_web_picture_is_listed_with_its_row_and_nothing_is_published(
    host: PictureHost, fetcher: RemoteImageFetcher, tmp_path: Path
) -> None:
    good = row_with_image(at(host, "/pic.png"), "NEW-1")
    bad = row_with_image(at(host, "/to?url=http://169.254.169.254/"), "NEW-2")
    with pytest.raises(CatalogError) as error:
        read_catalog(write(tmp_path, good, bad), fetcher=fetcher)
    [(where, what)] = error.value.problems
    assert where == "line 3" and "169.254.169.254 is not a public internet address" in what
    assert published(tmp_path / "media") == []


def test_downloads_are_removed_when_the_import_is_over(host: PictureHost) -> None:
    with RemoteImageFetcher(resolve=resolve_images_test, allow=is_loopback) as fetcher:
        staged = fetcher.fetch(at(host, "/pic.png")).source
        assert staged.read_bytes() == PICTURE
    assert not staged.exists()


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("240.0.0.1", False),  # reserved
        ("224.0.0.1", False),  # multicast
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:10.0.0.1", False),
    ],
)
def test_only_global_unicast_addresses_count_as_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.fixture(scope="module")
def tls_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PictureHost, Path]]:
    """The picture host over HTTPS with a certificate for images.test, and its authority."""
    files = tls_files(tmp_path_factory.mktemp("tls"), "images.test")
    with running_picture_host(files) as running:
        yield running, files.ca


def test_https_checks_the_certificate_of_the_name_while_connecting_to_the_checked_address(
    tls_host: tuple[PictureHost, Path],
) -> None:
    host, ca = tls_host
    trust = ssl.create_default_context(cafile=str(ca))
    url = f"https://images.test:{host.port}/pic.png"
    with RemoteImageFetcher(resolve=resolve_images_test, allow=is_loopback, trust=trust) as fetcher:
        assert fetcher.fetch(url).source.read_bytes() == PICTURE
    # a certificate for another name is refused, although the address is the same
    elsewhere = f"https://elsewhere.test:{host.port}/pic.png"
    with (
        RemoteImageFetcher(
            resolve=lambda *_: [LOOPBACK], allow=is_loopback, trust=trust
        ) as fetcher,
        pytest.raises(ImageProblem, match="could not be fetched"),
    ):
        fetcher.fetch(elsewhere)
    # and the system's authorities do not vouch for the test one
    with (
        RemoteImageFetcher(resolve=resolve_images_test, allow=is_loopback) as fetcher,
        pytest.raises(ImageProblem, match="could not be fetched"),
    ):
        fetcher.fetch(url)
