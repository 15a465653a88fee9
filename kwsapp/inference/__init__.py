"""Window -> probabilities (recognizer), probabilities -> commands
(smoothing), and the threads that tie the audio to them (engine)."""
