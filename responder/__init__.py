"""responder: news watch and response deadlines for a work-safety bureau's press office."""

__version__ = "0.1.0"
