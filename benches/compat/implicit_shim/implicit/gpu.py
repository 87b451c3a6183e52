HAS_CUDA = False
