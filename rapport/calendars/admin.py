from django.contrib import admin

from rapport.calendars.models import BusinessCalendar, BusinessPeriod, CalendarHoliday


class PeriodInline(admin.TabularInline):
    model = BusinessPeriod
    extra = 0


class HolidayInline(admin.TabularInline):
    model = CalendarHoliday
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ("name", "time_zone", "holiday_country")
    inlines = [PeriodInline, HolidayInline]
