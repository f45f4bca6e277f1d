"""Neural building blocks shared by every task: recurrent cells and stacks, attention."""
