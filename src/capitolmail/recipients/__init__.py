"""Who a message goes to: legislators, their office contacts, supporters, suppression."""
