"""Keras layers as torch modules. Any `torch.nn.Module` can also be used as a layer."""

from kfit.layers.activation import Activation
from kfit.layers.activations.elu import ELU
from kfit.layers.activations.leaky_relu import LeakyReLU
from kfit.layers.activations.prelu import PReLU
from kfit.layers.activations.relu import ReLU
from kfit.layers.activations.softmax import Softmax
from kfit.layers.attention.additive_attention import AdditiveAttention
from kfit.layers.attention.attention import Attention
from kfit.layers.attention.multi_head_attention import MultiHeadAttention
from kfit.layers.convolutional.conv1d import Conv1D
from kfit.layers.convolutional.conv1d_transpose import Conv1DTranspose
from kfit.layers.convolutional.conv2d import Conv2D
from kfit.layers.convolutional.conv2d_transpose import Conv2DTranspose
from kfit.layers.convolutional.conv3d import Conv3D
from kfit.layers.convolutional.conv3d_transpose import Conv3DTranspose
from kfit.layers.convolutional.depthwise_conv1d import DepthwiseConv1D
from kfit.layers.convolutional.depthwise_conv2d import DepthwiseConv2D
from kfit.layers.convolutional.separable_conv1d import SeparableConv1D
from kfit.layers.convolutional.separable_conv2d import SeparableConv2D
from kfit.layers.dense import Dense
from kfit.layers.dropout import Dropout
from kfit.layers.einsum_dense import EinsumDense
from kfit.layers.embedding import Embedding
from kfit.layers.flatten import Flatten
from kfit.layers.identity import Identity
from kfit.layers.input_layer import Input, InputLayer
from kfit.layers.lambda_layer import Lambda
from kfit.layers.layer import Layer
from kfit.layers.masking import Masking
from kfit.layers.merging.add import Add, add
from kfit.layers.merging.average import Average, average
from kfit.layers.merging.concatenate import Concatenate, concatenate
from kfit.layers.merging.dot import Dot, dot
from kfit.layers.merging.maximum import Maximum, maximum
from kfit.layers.merging.minimum import Minimum, minimum
from kfit.layers.merging.multiply import Multiply, multiply
from kfit.layers.merging.subtract import Subtract, subtract
from kfit.layers.normalization.batch_normalization import BatchNormalization
from kfit.layers.normalization.group_normalization import GroupNormalization
from kfit.layers.normalization.layer_normalization import LayerNormalization
from kfit.layers.normalization.unit_normalization import UnitNormalization
from kfit.layers.pooling.average_pooling1d import AveragePooling1D
from kfit.layers.pooling.average_pooling2d import AveragePooling2D
from kfit.layers.pooling.average_pooling3d import AveragePooling3D
from kfit.layers.pooling.global_average_pooling1d import GlobalAveragePooling1D
from kfit.layers.pooling.global_average_pooling2d import GlobalAveragePooling2D
from kfit.layers.pooling.global_average_pooling3d import GlobalAveragePooling3D
from kfit.layers.pooling.global_max_pooling1d import GlobalMaxPooling1D
from kfit.layers.pooling.global_max_pooling2d import GlobalMaxPooling2D
from kfit.layers.pooling.global_max_pooling3d import GlobalMaxPooling3D
from kfit.layers.pooling.max_pooling1d import MaxPooling1D
from kfit.layers.pooling.max_pooling2d import MaxPooling2D
from kfit.layers.pooling.max_pooling3d import MaxPooling3D
from kfit.layers.preprocessing.normalization import Normalization
from kfit.layers.preprocessing.random_flip import RandomFlip
from kfit.layers.preprocessing.random_rotation import RandomRotation
from kfit.layers.preprocessing.rescaling import Rescaling
from kfit.layers.regularization.activity_regularization import ActivityRegularization
from kfit.layers.regularization.alpha_dropout import AlphaDropout
from kfit.layers.regularization.gaussian_dropout import GaussianDropout
from kfit.layers.regularization.gaussian_noise import GaussianNoise
from kfit.layers.regularization.spatial_dropout import SpatialDropout1D, SpatialDropout2D, SpatialDropout3D
from kfit.layers.reshape import Reshape
from kfit.layers.reshaping.cropping1d import Cropping1D
from kfit.layers.reshaping.cropping2d import Cropping2D
from kfit.layers.reshaping.permute import Permute
from kfit.layers.reshaping.repeat_vector import RepeatVector
from kfit.layers.reshaping.up_sampling1d import UpSampling1D
from kfit.layers.reshaping.up_sampling2d import UpSampling2D
from kfit.layers.reshaping.zero_padding1d import ZeroPadding1D
from kfit.layers.reshaping.zero_padding2d import ZeroPadding2D
from kfit.layers.rnn.bidirectional import Bidirectional
from kfit.layers.rnn.gru import GRU, GRUCell
from kfit.layers.rnn.lstm import LSTM, LSTMCell
from kfit.layers.rnn.rnn import RNN
from kfit.layers.rnn.simple_rnn import SimpleRNN, SimpleRNNCell
from kfit.layers.rnn.stacked_rnn_cells import StackedRNNCells
from kfit.layers.rnn.time_distributed import TimeDistributed
from kfit.layers.torch_module_wrapper import TorchModuleWrapper

# Keras's other names for the same classes.
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = (
    Conv1DTranspose,
    Conv2DTranspose,
    Conv3DTranspose,
)
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
)

__all__ = [
    "ELU",
    "GRU",
    "LSTM",
    "RNN",
    "Activation",
    "ActivityRegularization",
    "Add",
    "AdditiveAttention",
    "AlphaDropout",
    "Attention",
    "Average",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "AvgPool1D",
    "AvgPool2D",
    "AvgPool3D",
    "BatchNormalization",
    "Bidirectional",
    "Concatenate",
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "Convolution1D",
    "Convolution1DTranspose",
    "Convolution2D",
    "Convolution2DTranspose",
    "Convolution3D",
    "Convolution3DTranspose",
    "Cropping1D",
    "Cropping2D",
    "Dense",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "Dot",
    "Dropout",
    "EinsumDense",
    "Embedding",
    "Flatten",
    "GRUCell",
    "GaussianDropout",
    "GaussianNoise",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalAvgPool3D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPool3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GroupNormalization",
    "Identity",
    "Input",
    "InputLayer",
    "LSTMCell",
    "Lambda",
    "Layer",
    "LayerNormalization",
    "LeakyReLU",
    "Masking",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPool3D",
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
    "Maximum",
    "Minimum",
    "MultiHeadAttention",
    "Multiply",
    "Normalization",
    "PReLU",
    "Permute",
    "RandomFlip",
    "RandomRotation",
    "ReLU",
    "RepeatVector",
    "Rescaling",
    "Reshape",
    "SeparableConv1D",
    "SeparableConv2D",
    "SeparableConvolution1D",
    "SeparableConvolution2D",
    "SimpleRNN",
    "SimpleRNNCell",
    "Softmax",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "StackedRNNCells",
    "Subtract",
    "TimeDistributed",
    "TorchModuleWrapper",
    "UnitNormalization",
    "UpSampling1D",
    "UpSampling2D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "add",
    "average",
    "concatenate",
    "dot",
    "maximum",
    "minimum",
    "multiply",
    "subtract",
]


class NotInKfitYet(NotImplementedError, AttributeError):
    """A Keras layer that kfit does not have yet (also an AttributeError, so `hasattr` is False)."""


# Keras layers that kfit does not implement yet: naming one gives a clear error rather than a
# bare AttributeError.
_NOT_YET = frozenset(
    (
        "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
        "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D", "AugMix", "AutoContrast",
        "CategoryEncoding", "CenterCrop", "ContrastLimitedAdaptiveHistogramEqualization", "ConvLSTM1D",
        "ConvLSTM2D", "ConvLSTM3D", "Cropping3D", "CutMix", "Discretization", "Equalization", "FlaxLayer",
        "GroupQueryAttention", "HashedCrossing", "Hashing", "InputSpec", "IntegerLookup", "JaxLayer",
        "MaxNumBoundingBoxes", "MelSpectrogram", "MixUp", "Pipeline", "RMSNormalization", "RandAugment",
        "RandomBrightness", "RandomColorDegeneration", "RandomColorJitter", "RandomContrast", "RandomCrop",
        "RandomElasticTransform", "RandomErasing", "RandomGaussianBlur", "RandomGrayscale",
        "RandomHue", "RandomInvert", "RandomPerspective", "RandomPosterization",
        "RandomSaturation", "RandomSharpness", "RandomShear", "RandomTranslation", "RandomZoom", "Resizing",
        "ReversibleEmbedding", "STFTSpectrogram", "Solarization", "SpectralNormalization", "StringLookup",
        "TFSMLayer", "TextVectorization", "UpSampling3D", "Wrapper", "ZeroPadding3D",
    )
)


def __getattr__(name: str) -> object:
    if name in _NOT_YET:
        raise NotInKfitYet(
            f"keras.layers.{name} is not in kfit yet. Any torch.nn.Module can stand in for it in "
            "a model, or write it as a kfit Layer subclass."
        )
    raise AttributeError(f"module 'kfit.layers' has no attribute {name!r}")
