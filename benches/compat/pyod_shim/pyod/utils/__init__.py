from .data import generate_data

__all__ = ["generate_data"]
