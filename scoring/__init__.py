"""Lead scoring: point-in-time features, the XGBoost scorer, reasons and evaluation."""
