"""Window -> probabilities (recognizer), probabilities -> commands
(smoothing), the ignore words' veto and hold (hold), the speech recogniser's
second opinion (second_opinion, on verifier), and the threads that tie the
audio to them (engine); the classify and metrics services on top."""
