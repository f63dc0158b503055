"""Training and transfer learning for CheXNet-convention DenseNet-121 packages."""
