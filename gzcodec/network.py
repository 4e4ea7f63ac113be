"""Whether a server's port answers at all, before a client library waits on it for minutes.

Ray's ``ray.init(address="host:port")`` retries a server that is not there for
minutes, logging every 40 s; a job must instead say at once that nothing
listens. :func:`check_reachable` opens one TCP connection (and closes it): a
refused or unreachable port, or an unknown host, fails in at most ``timeout``
seconds. Imports nothing of gzcodec.

Examples
--------
>>> host_port("ray://10.0.0.5:10001"), host_port("[::1]:6379"), host_port("auto")
(('10.0.0.5', 10001), ('::1', 6379), None)
"""

from __future__ import annotations

import socket

__all__ = ["CONNECT_TIMEOUT", "check_reachable", "host_port"]

#: Seconds :func:`check_reachable` waits for a port to answer.
CONNECT_TIMEOUT = 10.0


def host_port(address: str) -> tuple[str, int] | None:
    """The host and port an address names (``host:port``, ``scheme://host:port``), or ``None``.

    ``None`` for an address that names no port (``auto``, ``local``, a bare host).
    """
    rest = address.split("://", 1)[-1].split("/", 1)[0]
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def check_reachable(address: str, *, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise unless something accepts a TCP connection at ``address``'s host and port.

    An address without a port (:func:`host_port` gives ``None``) is not checked.

    Raises
    ------
    OSError
        Nothing listens there (``ConnectionRefusedError``), the host is unknown
        or unreachable, or it did not answer within ``timeout`` seconds
        (``TimeoutError``); its ``strerror`` says which.
    """
    where = host_port(address)
    if where is None:
        return
    try:
        with socket.create_connection(where, timeout=timeout):
            pass
    except socket.gaierror as exc:
        raise OSError(exc.errno, f"unknown host {where[0]!r}") from None
    except TimeoutError:
        raise TimeoutError(f"no answer within {timeout:g} s") from None
    except OSError as exc:
        raise OSError(exc.errno, (exc.strerror or str(exc)).lower()) from None
