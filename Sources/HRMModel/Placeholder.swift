enum HRMModelPlaceholder {}
