"""The public names of each namespace, pinned: `import kfit as keras` code relies on them."""

from __future__ import annotations

import importlib

import pytest

import kfit

EXPECTED = {
    "kfit": {"Sequential", "Model", "Input", "layers", "optimizers", "losses", "metrics", "callbacks",
             "backend", "datasets", "utils", "activations", "initializers", "models", "saving",
             "regularizers", "constraints", "ops", "random", "KerasTensor", "distribution", "applications",
             "mixed_precision", "config", "version", "Layer", "Loss", "Metric", "Optimizer", "Initializer",
             "Regularizer", "Variable", "DTypePolicy"},
    "kfit.config": {"backend", "floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format",
                    "set_image_data_format", "dtype_policy", "set_dtype_policy", "enable_interactive_logging",
                    "disable_interactive_logging", "is_interactive_logging_enabled"},
    "kfit.distribution": {"barrier", "get_rank", "get_world_size", "initialize", "is_distributed",
                          "is_main_process"},
    "kfit.regularizers": {"Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2",
                          "orthogonal_regularizer", "get", "serialize", "deserialize"},
    "kfit.constraints": {"Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm", "min_max_norm",
                         "non_neg", "unit_norm", "get", "serialize", "deserialize"},
    "kfit.layers": {"Dense", "Activation", "Dropout", "Flatten", "Reshape", "InputLayer", "Input", "Layer",
                    "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "SeparableConv2D",
                    "DepthwiseConv2D", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
                    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
                    "GlobalAveragePooling2D", "BatchNormalization", "LayerNormalization", "GroupNormalization",
                    "Embedding", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "TimeDistributed", "Masking",
                    "RepeatVector", "UpSampling1D", "UpSampling2D", "ZeroPadding1D", "ZeroPadding2D",
                    "Cropping1D", "Cropping2D", "Permute", "Add", "Subtract", "Multiply", "Average", "Maximum",
                    "Concatenate", "add", "concatenate", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax",
                    "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
                    "ActivityRegularization", "MultiHeadAttention", "Attention", "Rescaling", "Normalization",
                    "Lambda", "Identity", "EinsumDense", "RandomFlip", "RandomRotation"},
    "kfit.ops": {"add", "matmul", "reshape", "transpose", "concatenate", "stack", "split", "expand_dims",
                 "squeeze", "where", "cast", "shape", "ones", "zeros", "arange", "take", "tile", "one_hot",
                 "clip", "exp", "log", "sqrt", "square", "abs", "maximum", "minimum", "argmax", "sum", "mean",
                 "max", "min", "std", "var", "relu", "sigmoid", "softmax", "log_softmax", "gelu", "silu", "conv",
                 "max_pool", "average_pool", "binary_crossentropy", "categorical_crossentropy",
                 "sparse_categorical_crossentropy", "moments", "numpy", "nn"},
    "kfit.random": {"normal", "uniform", "randint", "dropout", "shuffle", "SeedGenerator"},
    "kfit.optimizers": {"Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "get", "schedules",
                        "LossScaleOptimizer"},
    "kfit.mixed_precision": {"DTypePolicy", "Policy", "LossScaleOptimizer", "dtype_policy", "global_policy",
                             "set_dtype_policy", "set_global_policy"},
    "kfit.losses": {"Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
                    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "mean_squared_error",
                    "mean_absolute_error", "huber", "binary_crossentropy", "categorical_crossentropy",
                    "sparse_categorical_crossentropy", "get",
                    "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy", "CategoricalGeneralizedCrossEntropy",
                    "Dice", "Tversky", "Circle", "CTC", "binary_focal_crossentropy",
                    "categorical_focal_crossentropy", "categorical_generalized_cross_entropy", "dice", "tversky",
                    "circle", "ctc"},
    "kfit.metrics": {"F1Score", "FBetaScore", "IoU", "MeanIoU", "BinaryIoU", "OneHotIoU", "OneHotMeanIoU",
                     "Hinge", "SquaredHinge", "CategoricalHinge", "KLDivergence", "Poisson", "BinaryCrossentropy",
                     "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "R2Score",
                     "binary_focal_crossentropy", "categorical_focal_crossentropy", "PearsonCorrelation",
                     "ConcordanceCorrelation", "pearson_correlation", "concordance_correlation",
                     "Metric", "Mean", "MeanMetricWrapper", "MeanSquaredError", "MeanAbsoluteError",
                     "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
                     "TruePositives", "TrueNegatives", "FalsePositives", "FalseNegatives", "Precision",
                     "Recall", "AUC", "PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity",
                     "SpecificityAtSensitivity", "get"},
    "kfit.callbacks": {"Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
                       "ModelCheckpoint", "BackupAndRestore", "LearningRateScheduler",
                       "ReduceLROnPlateau", "CSVLogger", "TensorBoard", "TerminateOnNaN",
                       "LambdaCallback", "RemoteMonitor", "SwapEMAWeights", "EventFilter", "Every",
                       "Never"},
    "kfit.applications": {"VGG16", "VGG19", "ResNet50", "ResNet101", "ResNet152", "MobileNetV2",
                          "imagenet_utils", "vgg16", "vgg19", "resnet", "resnet50", "mobilenet_v2"},
    "kfit.applications.imagenet_utils": {"preprocess_input", "decode_predictions"},
    "kfit.applications.vgg16": {"VGG16", "preprocess_input", "decode_predictions"},
    "kfit.applications.vgg19": {"VGG19", "preprocess_input", "decode_predictions"},
    "kfit.applications.resnet": {"ResNet50", "ResNet101", "ResNet152", "preprocess_input",
                                 "decode_predictions"},
    "kfit.applications.resnet50": {"ResNet50", "preprocess_input", "decode_predictions"},
    "kfit.applications.mobilenet_v2": {"MobileNetV2", "preprocess_input", "decode_predictions"},
    "kfit.backend": {"get_value", "set_value", "floatx", "epsilon", "image_data_format",
                     "set_image_data_format", "standardize_data_format", "clear_session"},
    "kfit.datasets": {"mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters", "boston_housing",
                      "california_housing"},
    "kfit.utils": {"get_file", "Progbar", "set_random_seed", "is_keras_tensor", "to_categorical",
                   "normalize", "pad_sequences", "PyDataset", "Sequence", "split_dataset", "plot_model",
                   "model_to_dot", "plot_history",
                   "load_img", "img_to_array", "array_to_img", "save_img", "image_dataset_from_directory",
                   "text_dataset_from_directory", "timeseries_dataset_from_array",
                   "CustomObjectScope", "custom_object_scope", "deserialize_keras_object",
                   "serialize_keras_object", "get_custom_objects", "get_registered_name",
                   "get_registered_object", "register_keras_serializable", "clear_session",
                   "disable_interactive_logging", "enable_interactive_logging",
                   "is_interactive_logging_enabled", "get_source_inputs", "standardize_dtype", "Config"},
    "kfit.models": {"Model", "Sequential", "load_model", "clone_model", "model_from_json"},
    "kfit.saving": {"save_model", "load_model", "save_weights", "load_weights",
                    "register_keras_serializable", "serialize_keras_object",
                    "deserialize_keras_object", "get_registered_name", "get_registered_object",
                    "custom_object_scope", "CustomObjectScope", "get_custom_objects"},
}


@pytest.mark.parametrize("namespace", sorted(EXPECTED))
def test_namespace_exports(namespace):
    module = importlib.import_module(namespace)
    assert EXPECTED[namespace] <= set(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), f"{namespace}.{name} is in __all__ but missing"


def test_mnist_load_data_is_reachable_as_in_keras():
    assert callable(kfit.datasets.mnist.load_data)


def test_losses_and_metrics_string_aliases_resolve():
    for alias in ("mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy",
                  "sparse_categorical_crossentropy", "mean_squared_error"):
        assert kfit.losses.get(alias) is not None


@pytest.mark.parametrize("namespace", ["losses", "metrics"])
def test_every_public_keras_loss_and_metric_name_exists(namespace):
    keras = pytest.importorskip("keras")
    theirs = {name for name in dir(getattr(keras, namespace)) if not name.startswith("_")}
    assert theirs <= set(getattr(kfit, namespace).__all__)
