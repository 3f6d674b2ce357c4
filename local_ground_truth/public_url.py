"""The address a team opens when the worker server sits behind a reverse proxy (``--public-url``).

The server itself speaks plain HTTP. To serve a team over HTTPS, a reverse proxy on this machine (Caddy, nginx)
terminates TLS at a public name and forwards to the server on 127.0.0.1, passing the ``Host`` the browser sent. The
server then answers to that name as well as its own, and whatever it writes for a browser is of the public address:
the links it prints and hands out, the signed links to images, the origin a page's answers must come from, and
``Secure`` on its key cookies when the address is https. ``X-Forwarded-*`` headers are not read (a client could
send them too); only the ``Host`` the proxy passes on counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class PublicAddress:
    origin: str  # "https://label.example.org": what a browser's Origin header says for it
    host: str  # its Host header: "label.example.org", or with a port other than the scheme's own

    @property
    def secure(self) -> bool:
        return self.origin.startswith("https://")


def parse_public_url(text: str) -> PublicAddress:
    """``https://name[:port][/]``; a ValueError says what is wrong with anything else."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError as error:
        raise ValueError(f"{text!r} is not a URL: {error}") from None
    if parts.scheme not in _DEFAULT_PORTS:
        raise ValueError(f"{text!r}: give an https:// (or http://) address, as workers will open it")
    if not parts.hostname:
        raise ValueError(f"{text!r} names no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{text!r}: a user name or password in the address would be handed out with every link")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{text!r}: the server is served at the root of its address: give no path, query or fragment "
                         "(proxy a name or a port of its own to it)")
    name = parts.hostname.lower()
    name = f"[{name}]" if ":" in name else name
    host = name if port in (None, _DEFAULT_PORTS[parts.scheme]) else f"{name}:{port}"
    return PublicAddress(origin=f"{parts.scheme}://{host}", host=host)
