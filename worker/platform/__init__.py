"""The Platform client: IMS auth, one module per API, one place that maps errors."""

from worker.platform.client import PlatformClient, open_platform_client
from worker.platform.dataprep import MappingSetRef

__all__ = ["MappingSetRef", "PlatformClient", "open_platform_client"]
