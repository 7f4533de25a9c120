/* placeholder */ typedef int at_placeholder_b64url;
