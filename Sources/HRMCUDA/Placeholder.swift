enum HRMCUDAPlaceholder {}
