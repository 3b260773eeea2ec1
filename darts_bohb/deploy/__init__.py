"""Using a final model outside the workflow: the preprocessing on record, prediction on new images
(PyTorch or onnxruntime), the ONNX export and the model card.

Nothing imported here pulls in torch: `record`, `images` and the ONNX path of `predict` run with
numpy, Pillow, pandas and onnxruntime alone, so a deployment machine needs no PyTorch.
"""
