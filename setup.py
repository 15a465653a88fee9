"""Packages for setuptools (the rest of the metadata is in pyproject.toml).

The bundled models stay in ``assets/`` at the top of the repository (the
product card's layout) and are shipped inside the wheel as the package
``kwsapp.assets`` (so ``kwsapp/assets/models/<name>/`` once installed), which
``[tool.setuptools.packages.find]`` cannot map. ``kwsapp.models.registry``
finds them there, or in ``assets/`` of a clone.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["kwsapp", "kwsapp.*", "training", "training.*"]),
              "kwsapp.assets"],
    package_dir={"kwsapp.assets": "assets"},
    # Every file of every model folder: helpers add files (embedding.tflite,
    # head.tflite, negatives.npz) without touching this list.
    package_data={"kwsapp.assets": ["models/*/*"]},
)
