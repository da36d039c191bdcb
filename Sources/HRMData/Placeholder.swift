enum HRMDataPlaceholder {}
