"""A seeded generator of a realistic B2B pipeline, with each lead's true conversion probability."""

from storage.demo.simulate import DemoPipeline, generate
from storage.demo.truth import TruthInputs, true_probability

__all__ = ["DemoPipeline", "TruthInputs", "generate", "true_probability"]
