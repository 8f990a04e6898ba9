"""Fetching catalog pictures from the web, only when the merchant asks for it
(`chatshop catalog import FILE --fetch-images`).

A catalog may come from a supplier, so its addresses are not trusted: only public internet
addresses are contacted (never loopback, private, link-local or reserved ones such as a cloud
metadata service), for the first address and for every redirect, at most MAX_REDIRECTS of them.
Each host is resolved once and the connection goes to exactly the address that was checked, so
a name that resolves differently the second time cannot slip through. A picture is read for at
most `timeout_s` seconds in all and MAX_BYTES bytes, then checked like a local one."""

from __future__ import annotations

import hashlib
import ipaddress
import shutil
import socket
import ssl
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx

from store.images import MAX_BYTES, CheckedImage, ImageProblem, check_content

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[IPAddress]]
MAX_REDIRECTS = 3
TIMEOUT_S = 10.0


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for `host`."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(str(i[4][0]).split("%")[0]) for i in infos))


def is_public(address: IPAddress) -> bool:
    """A global unicast address: not loopback, private, link-local, shared, reserved or
    multicast (an IPv4 address written as IPv6 is judged as the IPv4 one)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


class RemoteImageFetcher:
    """Downloads and checks pictures; a context manager that removes its downloads on exit.

    `resolve` and `allow` are seams for tests, whose local server is (rightly) not public."""

    def __init__(
        self,
        timeout_s: float = TIMEOUT_S,
        resolve: Resolver = resolve,
        allow: Callable[[IPAddress], bool] = is_public,
        clock: Callable[[], float] = time.monotonic,
        trust: ssl.SSLContext | None = None,
    ) -> None:
        """`trust`: the certificate authorities to trust (default: the system's)."""
        self._timeout_s, self._resolve, self._allow, self._clock = timeout_s, resolve, allow, clock
        self._staging = Path(tempfile.mkdtemp(prefix="chatshop-pictures-"))  # private (0700)
        # No proxy from the environment: the connection must go to the address we checked.
        self._http = httpx.Client(trust_env=False, follow_redirects=False, verify=trust or True)

    def __enter__(self) -> RemoteImageFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()
        shutil.rmtree(self._staging, ignore_errors=True)

    def fetch(self, url: str) -> CheckedImage:
        """The picture at `url`, downloaded to a private folder and checked."""
        try:
            start = httpx.URL(url)
        except httpx.InvalidURL:
            raise ImageProblem("is not a valid address") from None
        data = self._download(start, self._clock() + self._timeout_s)
        extension = check_content(data)
        digest = hashlib.sha256(data).hexdigest()
        staged = self._staging / digest
        staged.write_bytes(data)
        return CheckedImage(staged, digest, extension)

    def _download(self, url: httpx.URL, deadline: float) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                with closing(self._send(url, deadline)) as response:
                    if not response.is_redirect:
                        return self._body(response, deadline)
                    url = url.join(response.headers["location"])
            except httpx.TimeoutException:
                raise self._too_slow() from None
            except (httpx.HTTPError, httpx.InvalidURL, KeyError) as error:
                reason = str(error)[:200] or type(error).__name__
                raise ImageProblem(f"could not be fetched: {reason}") from None
        raise ImageProblem(f"more than {MAX_REDIRECTS} redirects")

    def _send(self, url: httpx.URL, deadline: float) -> httpx.Response:
        if url.scheme not in ("http", "https") or not url.host:
            raise ImageProblem("redirects to an address that is not http(s)")
        host = url.raw_host.decode("ascii")  # an international name in its DNS (IDNA) form
        address = self._checked_address(host, url.port or (443 if url.scheme == "https" else 80))
        remaining = max(deadline - self._clock(), 0.001)
        request = self._http.build_request(
            "GET",
            url.copy_with(host=str(address)),
            # The bytes as sent, not decompressed: the size limit is on what crosses the wire.
            headers={"Host": url.netloc.decode("ascii"), "Accept-Encoding": "identity"},
            extensions={"sni_hostname": host},  # TLS still checks the certificate's name
            timeout=httpx.Timeout(remaining),
        )
        return self._http.send(request, stream=True)

    def _checked_address(self, host: str, port: int) -> IPAddress:
        try:
            addresses = self._resolve(host, port)
        except (OSError, UnicodeError, ValueError):
            raise ImageProblem(f"the host {host} cannot be found") from None
        if not addresses or not all(self._allow(a) for a in addresses):
            raise ImageProblem(f"{host} is not a public internet address; it is not contacted")
        return addresses[0]

    def _body(self, response: httpx.Response, deadline: float) -> bytes:
        if response.status_code != 200:
            raise ImageProblem(f"the server answered HTTP {response.status_code}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BYTES:
            raise ImageProblem(f"larger than {MAX_BYTES // (1024 * 1024)} MB")
        body = bytearray()
        for chunk in response.iter_raw():
            body += chunk
            if len(body) > MAX_BYTES:
                raise ImageProblem(f"larger than {MAX_BYTES // (1024 * 1024)} MB")
            if self._clock() > deadline:
                raise self._too_slow()
        return bytes(body)

    def _too_slow(self) -> ImageProblem:
        return ImageProblem(f"took longer than {self._timeout_s:g} s to download")
