enum HRMTrainPlaceholder {}
