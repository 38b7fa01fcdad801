import base64

import numpy as np

from embedapp.messages import decode_vector, encode_vector


def test_vectors_round_trip_through_base64() -> None:
    vector = np.random.default_rng(0).standard_normal(384).astype(np.float32)
    assert decode_vector(encode_vector(vector)) == vector.tolist()


def test_the_encoding_is_what_openai_clients_decode() -> None:
    # openai-python: np.frombuffer(base64.b64decode(data), dtype="float32")
    decoded = np.frombuffer(base64.b64decode(encode_vector([0.5, -1.0, 2.0])), dtype="float32")
    assert decoded.tolist() == [0.5, -1.0, 2.0]
