"""Our HTTP/1.1 transport for httpx: asyncio protocols, httptools parsing, pools per origin."""

from worker.platform.wire.pool import LeanTransport
from worker.platform.wire.proxies import Proxies

__all__ = ["LeanTransport", "Proxies"]
