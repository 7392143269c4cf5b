"""fastconv.callbacks: training hooks (Keras 3 names and behaviour)."""
from .base import Callback, CallbackList, History
from .progbar import ProgbarLogger
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .lambda_callback import LambdaCallback
from .model_checkpoint import ModelCheckpoint
from .reduce_lr_on_plateau import ReduceLROnPlateau

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "CSVLogger", "EarlyStopping",
           "LambdaCallback", "ModelCheckpoint", "ReduceLROnPlateau"]
