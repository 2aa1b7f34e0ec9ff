"""Exported networks and the runtimes that run them: ONNX export of a ColorizationModel with its read-out
(onnx_export), the file's layout and metadata (onnx_format), an onnxruntime session offering the model interface of
the Colorizer and the evaluator (onnx_runtime), the int8 variant (onnx_quantize) and the exact rewrite it is
quantised from (graph_rewrites). onnx, onnxscript and onnxruntime are optional (the .[onnx] extra) and imported on
first use."""
from .onnx_export import export_onnx, save_onnx  # noqa: F401
from .onnx_runtime import OnnxColorizationModel, is_onnx_path, load_onnx_model  # noqa: F401
