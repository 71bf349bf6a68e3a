"""吹哨报到: a street blows the whistle, departments report in, the street assesses them."""
