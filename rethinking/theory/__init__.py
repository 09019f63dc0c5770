"""The paper's theory: finite-sample expressivity (Section 4) and linear / kernel models (Section 5)."""
