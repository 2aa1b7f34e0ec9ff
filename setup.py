from setuptools import find_packages, setup

setup(
    name="colorization",
    version="0.1.0",
    description="Config-driven PyTorch framework that learns to colorize grayscale photographs",
    packages=find_packages(include=["colorization", "colorization.*"]),
    python_requires=">=3.9",
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
        "dev": ["pytest>=7", "scikit-image>=0.21"],
        "tb": ["tensorboard>=2.10"],
    },
)
