"""Pre-built image classification models with Keras's ImageNet weights (`keras.applications`).

Each model module (`vgg16`, `vgg19`, `resnet`, `mobilenet_v2`) holds its constructor and the
`preprocess_input`/`decode_predictions` pair that goes with its weights; the constructors are
also available here. The models are functional `kfit.Model`s with Keras's layer names, so the
published `.h5` weight files (downloaded once into the Keras cache) load into them as they are.
"""

from kfit.applications import imagenet_utils, mobilenet_v2, resnet, resnet50, vgg16, vgg19
from kfit.applications.mobilenet_v2 import MobileNetV2
from kfit.applications.resnet import ResNet50, ResNet101, ResNet152
from kfit.applications.vgg16 import VGG16
from kfit.applications.vgg19 import VGG19

__all__ = [
    "VGG16",
    "VGG19",
    "MobileNetV2",
    "ResNet50",
    "ResNet101",
    "ResNet152",
    "imagenet_utils",
    "mobilenet_v2",
    "resnet",
    "resnet50",
    "vgg16",
    "vgg19",
]
