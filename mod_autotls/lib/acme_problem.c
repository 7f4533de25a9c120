/* placeholder */ typedef int at_placeholder_acme_problem;
