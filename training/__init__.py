"""Training package (extra ``train``): reproduces every bundled model from the
data set. This package may import TensorFlow; ``kwsapp`` never imports it."""
