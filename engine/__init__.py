"""Recommendation engine: catalog, title search, recommenders and their indices."""

from .engine import Engine
from .errors import AmbiguousTitle, DataError, InvalidInput, MovieBotError, UnknownTitle
from .results import Filters, Movie, Recommendation, Recommendations

__all__ = ["Engine", "Movie", "Recommendation", "Recommendations", "Filters", "MovieBotError",
           "InvalidInput", "UnknownTitle", "AmbiguousTitle", "DataError"]
