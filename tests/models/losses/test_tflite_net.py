"""The MediaPipe loss network: .tflite parsing, the torch executor, what it punishes, the flag."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from realtime.errors import UserError
from tests.conftest import torch_threads

pytest.importorskip("tflite", reason="the tflite package (train extra) is not installed")
tflite_net = pytest.importorskip("models.losses.tflite_net")


def _model(name: str):
    try:
        return tflite_net.model_path(name)
    except UserError as e:
        pytest.skip(f"mediapipe's {name} model is not available: {e}")


@pytest.fixture(scope="module")
def pose():
    _model("pose")
    with torch_threads(1):
        yield tflite_net.PretrainedFeatures(tflite_net.PretrainedFeaturesConfig("pose_landmark_full", (0, 1, 2)))


def textured(seed: int = 0, size: int = 128) -> torch.Tensor:
    """A synthetic picture with strokes: smooth colour + sharp random-orientation lines + noise."""
    g = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.stack([0.5 + 0.3 * np.sin(4 * xx + c) * np.cos(3 * yy - c) for c in range(3)], -1)
    for _ in range(40):
        angle, offset, width = g.uniform(0, np.pi), g.uniform(-1, 1), g.uniform(0.004, 0.012)
        d = np.abs((xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle) - offset * 0.5)
        img[d < width] = g.uniform(0, 1, 3)
    img += g.normal(0, 0.02, img.shape)
    return torch.from_numpy(np.clip(img, 0, 1).astype(np.float32)).permute(2, 0, 1)[None]


def test_stage_shapes_finite_deterministic_frozen(pose):
    x = torch.rand(2, 3, 96, 160, generator=torch.Generator().manual_seed(0))
    a, b = pose(x), pose(x)
    assert [tuple(f.shape) for f in a] == [(2, 64, 48, 80), (2, 144, 24, 40), (2, 192, 12, 20)]  # strides 2, 4, 8
    assert all(torch.isfinite(f).all() for f in a)
    assert all(torch.equal(f, g) for f, g in zip(a, b))
    assert all(f.min() >= 0 and f.max() <= 6 for f in a)  # ReLU6 stage outputs
    assert not any(p.requires_grad for p in pose.parameters()) and not any(t.requires_grad for t in pose.buffers())
    assert all(t.dtype in (torch.float32, torch.int64) for t in pose.buffers())  # fp16 weights -> float32; PAD sizes
    assert sum(t.numel() for t in pose.buffers() if t.dtype == torch.float32) > 40_000


def test_stage_taps_of_the_file_and_any_size(pose):
    net = pose.net
    assert [net.shapes[t] for t in net.stage_taps()[:4]] == [(1, 128, 128, 64), (1, 64, 64, 144), (1, 32, 32, 192), (1, 16, 16, 528)]
    assert pose(torch.rand(1, 3, 256, 256))[2].shape == (1, 192, 32, 32)  # the file's own size
    assert [f.shape[-2:] for f in pose(torch.rand(1, 3, 70, 101))] == [(35, 51), (18, 26), (9, 13)]  # odd sides: padded, cut back


def test_gradient_reaches_the_image(pose):
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    sum(f.mean() for f in pose(x)).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_blur_costs_more_than_a_one_pixel_shift_at_strides_4_and_8(pose):
    from benchmarks.loss_sensitivity import feature_losses, gaussian_blur, shift_right

    x = torch.cat([textured(0), textured(1)])
    with torch.no_grad():
        fx, fb, fs = pose(x), pose(gaussian_blur(x)), pose(shift_right(x))
    blur, shift = feature_losses(fx, fb), feature_losses(fx, fs)
    ratios = [float(b.sum() / s.sum()) for b, s in zip(blur, shift)]
    assert ratios[1] > 1 and ratios[2] > 1.5, ratios
    assert ratios[0] < ratios[1] < ratios[2], ratios  # deeper stages see strokes, not pixel positions
    pixel = float((gaussian_blur(x) - x).abs().mean() / (shift_right(x) - x).abs().mean())
    assert pixel < 1 < ratios[2], pixel  # pixel L1 does the opposite


def test_unsupported_op_is_a_one_line_error_naming_it(monkeypatch):
    path = _model("pose")
    monkeypatch.setattr(tflite_net.TFLiteNet, "SUPPORTED", tflite_net.TFLiteNet.SUPPORTED - {"DEPTHWISE_CONV_2D"})
    with pytest.raises(tflite_net.UnsupportedOp, match=r"op \d+ DEPTHWISE_CONV_2D is not supported") as e:
        tflite_net.TFLiteNet(path, ["model_1/model/add/add"])
    assert "\n" not in str(e.value)


def test_same_padding_is_tflites():
    """TFLite's SAME padding: the odd pixel after (asymmetric at stride 2), dilation widens the kernel."""
    assert tflite_net.same_padding(256, 3, 2) == (0, 1) and tflite_net.same_padding(255, 3, 2) == (1, 1)
    assert tflite_net.same_padding(10, 3, 1, dilation=2) == (2, 2) and tflite_net.same_padding(64, 5, 2) == (1, 2)


def test_whole_graphs_run_to_their_outputs():
    """Every op of face_landmark (PRELU, MAX_POOL, channel PAD) and selfie_segmentation (HARD_SWISH, global
    AVERAGE_POOL, MUL, RESIZE_BILINEAR, MediaPipe's transpose conv) runs at the file's size."""
    with torch_threads(1):
        face = tflite_net.TFLiteNet(_model("face"), ["conv2d_21", "conv2d_31"])
        landmarks, score = face(torch.rand(1, 3, 192, 192))
        selfie = tflite_net.TFLiteNet(_model("selfie"), ["activation_10"])
        (mask,) = selfie(torch.rand(1, 3, 256, 256))
    assert landmarks.shape == (1, 1404, 1, 1) and score.shape == (1, 1, 1, 1)
    assert mask.shape == (1, 1, 256, 256) and 0 <= mask.min() and mask.max() <= 1


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe is not installed")
def test_selfie_mask_matches_mediapipe_solution():
    """The whole selfie network in torch against MediaPipe's own run of it (its solution API) on a 256² photo."""
    import cv2
    from models.data.media import data_root

    faces = data_root() / "faces" / "3ddfa__emma.jpg"
    if not faces.is_file():
        pytest.skip(f"{faces} is absent (the shared media)")
    rgb = np.ascontiguousarray(cv2.resize(cv2.imread(str(faces))[:, :, ::-1], (256, 256), interpolation=cv2.INTER_AREA))
    import mediapipe as mp

    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
        theirs = seg.process(rgb).segmentation_mask
    selfie = tflite_net.TFLiteNet(_model("selfie"), ["activation_10"])
    (ours,) = selfie(torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)[None])
    diff = np.abs(ours[0, 0].numpy() - theirs)
    assert diff.max() < 1e-3, diff.max()


def mediapipe_run(path, taps: list[int], rgb: np.ndarray, tmp_path) -> list[np.ndarray]:
    """``taps`` computed by MediaPipe's own TFLite runtime: a copy of the file whose graph outputs are
    rewritten in place to the taps, run by an InferenceCalculator graph on ``rgb`` scaled to [0, 1]."""
    import mediapipe as mp
    import tflite
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.python import packet_creator, packet_getter
    from mediapipe.python._framework_bindings import calculator_graph

    buf = bytearray(path.read_bytes())
    g = tflite.Model.GetRootAsModel(buf, 0).Subgraphs(0)
    field = g._tab.Offset(8)  # SubGraph.outputs
    vec, n = g._tab.Vector(field), g._tab.VectorLen(field)
    assert len(taps) <= n
    for i, t in enumerate(taps):
        buf[vec + 4 * i : vec + 4 * i + 4] = int(t).to_bytes(4, "little")
    patched = tmp_path / path.name
    patched.write_bytes(bytes(buf))
    h, w = rgb.shape[:2]
    config = f"""
input_stream: "image"
{"".join(f'output_stream: "f{i}" ' for i in range(len(taps)))}
node {{ calculator: "ImageToTensorCalculator" input_stream: "IMAGE:image" output_stream: "TENSORS:t"
  options {{ [mediapipe.ImageToTensorCalculatorOptions.ext] {{ output_tensor_width: {w} output_tensor_height: {h}
    keep_aspect_ratio: false output_tensor_float_range {{ min: 0 max: 1 }} border_mode: BORDER_ZERO }} }} }}
node {{ calculator: "TfLiteCustomOpResolverCalculator" output_side_packet: "OP_RESOLVER:op_resolver" }}
node {{ calculator: "InferenceCalculator" input_stream: "TENSORS:t" output_stream: "TENSORS:o"
  input_side_packet: "OP_RESOLVER:op_resolver"
  options {{ [mediapipe.InferenceCalculatorOptions.ext] {{ model_path: "{patched}" delegate {{ tflite {{}} }} }} }} }}
node {{ calculator: "SplitTensorVectorCalculator" input_stream: "o" {"".join(f'output_stream: "s{i}" ' for i in range(n))}
  options {{ [mediapipe.SplitVectorCalculatorOptions.ext] {{ {"".join(f"ranges {{ begin: {i} end: {i + 1} }} " for i in range(n))} }} }} }}
{"".join(f'node {{ calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:s{i}" output_stream: "FLOATS:f{i}" }} ' for i in range(len(taps)))}
"""
    graph = calculator_graph.CalculatorGraph(graph_config=text_format.Parse(config, calculator_pb2.CalculatorGraphConfig()))
    got: dict[str, np.ndarray] = {}
    for i in range(len(taps)):
        graph.observe_output_stream(f"f{i}", lambda name, packet: got.__setitem__(name, np.array(packet_getter.get_float_list(packet))))
    graph.start_run()
    graph.add_packet_to_input_stream("image", packet_creator.create_image_frame(image_format=mp.ImageFormat.SRGB, data=rgb).at(0))
    graph.close()
    return [got[f"f{i}"] for i in range(len(taps))]


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe is not installed")
def test_stage_taps_match_mediapipe_tflite_runtime(pose, tmp_path):
    """pose_landmark_full's stride 2, 4, 8 stage outputs in torch against MediaPipe's TFLite interpreter."""
    path = _model("pose")
    rgb = (textured(3, 256)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    theirs = mediapipe_run(path, pose.net.taps, rgb, tmp_path)
    ours = pose(torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)[None])
    for a, b in zip(theirs, ours):
        b = b[0].permute(1, 2, 0).reshape(-1).numpy()  # NHWC, as TFLite flattens
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-3, np.abs(a - b).max()


def test_loss_net_flag_builds_a_style_loss():
    _model("pose")
    from models.losses.perceptual import StyleLoss, add_loss_args, loss_network
    import argparse

    p = argparse.ArgumentParser()
    add_loss_args(p)
    a = p.parse_args(["--loss-net", "pose"])
    net = loss_network(a.loss_net)
    assert isinstance(net, tflite_net.PretrainedFeatures) and len(net(torch.rand(1, 3, 64, 64))) == 4
    loss = StyleLoss(net, torch.rand(1, 3, 96, 80))
    out = loss(torch.rand(2, 3, 64, 64, requires_grad=True), torch.rand(2, 3, 64, 64))
    assert torch.isfinite(out["total"]) and out["content"] > 0 and out["style"] > 0
    with pytest.raises(UserError, match="unknown loss network"):
        loss_network("nope")


def test_train_style_checkpoint_meta_rebuilds_the_pose_net(tmp_path):
    _model("pose")
    from models.train_style import StyleTrainConfig, loss_meta_for, loss_network_for

    meta = loss_meta_for(StyleTrainConfig(style=tmp_path / "s.jpg", out=tmp_path / "o.pt", loss_net="pose"))
    assert meta["loss_net"] == "pose" and isinstance(loss_network_for(meta), tflite_net.PretrainedFeatures)


def test_unknown_model_is_a_user_error():
    with pytest.raises(UserError, match="unknown pretrained loss network"):
        tflite_net.model_path("vgg")
