"""Audio input: the live stream, the ring buffer, the VAD gate, file decoding."""
