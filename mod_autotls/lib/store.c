/* placeholder */ typedef int at_placeholder_store;
