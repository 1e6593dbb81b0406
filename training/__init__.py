"""GazeGAN (Zhang et al., ACM MM 2020) in PyTorch: networks, losses, data, training and evaluation."""
