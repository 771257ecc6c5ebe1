"""Pure balance math: what each event means for money, the balance rows, as-of filters."""
