"""What proves who a customer is, and its rules: passwords (policy, hashing, what setting
one writes), the guess throttle, sessions, and the single-use reset and set-password
links. Used by the operator's flows and the storefront's alike."""
