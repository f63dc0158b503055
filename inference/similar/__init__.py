"""Similar cases: the scored studies whose images look most like a given study's, by the model's own
features (pooled norm5 embeddings stored per image and weights), with how they were read."""

from inference.similar.details import SimilarStudy, describe
from inference.similar.search import Neighbour, SimilarCases, SimilarityError, index_path, study_vector

__all__ = [
    "Neighbour",
    "SimilarCases",
    "SimilarStudy",
    "SimilarityError",
    "describe",
    "index_path",
    "study_vector",
]
