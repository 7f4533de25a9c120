/* placeholder */ typedef int at_placeholder_cert;
