"""`python -m nlp.export`: export the packaged transformer to int8 ONNX now (`make install` runs it), so that the
first message read does not wait for it."""

from nlp.embed import build

if __name__ == "__main__":
    print(build())
