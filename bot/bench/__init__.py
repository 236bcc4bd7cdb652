"""Benchmarks behind `hotlead bench`: each measures one capability and returns plain numbers."""
