from django import template

register = template.Library()


@register.simple_tag
def contact_portal(contact):
    from rapport.portal.staff_views import contact_portal_state

    return contact_portal_state(contact)
