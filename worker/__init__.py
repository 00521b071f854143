"""dataflow-worker: onboard database tables into Adobe Experience Platform dataflows."""

__version__ = "0.1.0"
