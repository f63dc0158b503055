"""Model evaluation: metrics, operating points, bootstrap intervals, plots and reports."""
