"""Who may use which portal page: the owner (acme.com's primary admin), a co-admin, a
teammate (a user of acme.com who is no admin), an outsider (beta.org's admin) and support
staff (a superuser of the /admin/ site), one small file per family of pages."""
