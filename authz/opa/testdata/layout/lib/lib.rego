package lib

ok if "admin" in data.roles.admins
