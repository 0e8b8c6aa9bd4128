from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from config.roles import ROLES, ensure_role_groups


class Command(BaseCommand):
    help = "API tokens: `tokens create <username> --role ROLE` prints a token (last line: the token alone)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("username")
        create.add_argument("--role", required=True, choices=ROLES)

    def handle(self, *args, action: str, username: str, role: str, **options):
        ensure_role_groups()
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save()
        user.groups.add(Group.objects.get(name=role))
        if role == "admin" and not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(
            f"{'created' if created else 'found'} user {username} with role {role}; API token:"
        )
        self.stdout.write(token.key)
